//! A series' schedule: its `recurrence` lines read with the `rrule` crate and
//! expanded in the series' own zone (all-day series by dates).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use rrule::{RRule, RRuleSet, Unvalidated};
use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::event::EventDateTime;

/// Instances `singleEvents=true` expands per series without `timeMax`
/// (Google expands an endless series to about 730 instances).
pub(crate) const OPEN_ENDED_INSTANCES: usize = 730;
/// Instances expanded per series when the window is bounded: a guard
/// against rules such as `FREQ=SECONDLY`, not a Google limit.
pub(crate) const BOUNDED_INSTANCES: usize = 10_000;
/// Occurrences scanned to answer "is this an occurrence?" or "where does it end?".
const MAX_SCAN: usize = 100_000;

/// How a series repeats.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    /// The zone local times belong to (UTC for an all-day series).
    pub(crate) zone: chrono_tz::Tz,
    /// The zone of the end boundary, as the series gives it.
    pub(crate) end_zone: chrono_tz::Tz,
    /// Dates (`start.date`) rather than date-times.
    pub(crate) all_day: bool,
    /// The series' own start, always its first instance.
    pub(crate) start: DateTime<Utc>,
    /// Every instance lasts this long.
    pub(crate) duration: TimeDelta,
    /// RRULE, EXRULE and RDATE lines (EXDATEs are kept apart).
    set: RRuleSet,
    /// Original starts cancelled by `EXDATE` lines.
    exdates: Vec<DateTime<Utc>>,
    /// Whether every RRULE ends (`COUNT` or `UNTIL`).
    finite: bool,
}

fn invalid() -> ApiError {
    ApiError::bad_request("invalid", "Invalid recurrence rule.")
}

fn boundary(fields: &Map<String, Value>, key: &str) -> Option<EventDateTime> {
    serde_json::from_value(fields.get(key)?.clone()).ok()
}

impl Schedule {
    /// The schedule of an event's stored fields; `None` for a single event.
    pub(crate) fn of(fields: &Map<String, Value>) -> Result<Option<Self>, ApiError> {
        let lines: Vec<String> = match fields.get("recurrence") {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => serde_json::from_value(value.clone()).map_err(|_| invalid())?,
        };
        if lines.is_empty() {
            return Ok(None);
        }
        let (Some(start), Some(end)) = (boundary(fields, "start"), boundary(fields, "end")) else {
            return Err(invalid());
        };
        let all_day = start.date.is_some();
        let zone_of = |side: &EventDateTime| -> Result<chrono_tz::Tz, ApiError> {
            match (&side.time_zone, all_day) {
                (_, true) => Ok(chrono_tz::UTC),
                (Some(zone), false) => zone.parse().map_err(|_| invalid()),
                (None, false) => Err(ApiError::bad_request(
                    "required",
                    "Missing time zone definition for start time.",
                )),
            }
        };
        let zone = zone_of(&start)?;
        let end_zone = if end.time_zone.is_some() {
            zone_of(&end)?
        } else {
            zone
        };
        let (Some(first), Some(last)) = (start.instant(), end.instant()) else {
            return Err(invalid());
        };
        let rule_zone = rrule::Tz::from(zone);
        let dt_start = rule_zone.from_utc_datetime(&first.naive_utc());
        let mut set = RRuleSet::new(dt_start).limit();
        let mut exdates = Vec::new();
        let mut finite = true;
        let reader = LineReader {
            zone,
            all_day,
            local_start: dt_start.naive_local(),
        };
        for line in &lines {
            let (head, value) = line.split_once(':').ok_or_else(invalid)?;
            let mut params = head.split(';');
            let name = params.next().unwrap_or_default().to_ascii_uppercase();
            match name.as_str() {
                "RRULE" | "EXRULE" => {
                    let rule: RRule<Unvalidated> =
                        reader.rule_text(value)?.parse().map_err(|_| invalid())?;
                    let rule = rule.validate(dt_start).map_err(|_| invalid())?;
                    if name == "RRULE" {
                        finite &= rule.get_count().is_some() || rule.get_until().is_some();
                        set = set.rrule(rule);
                    } else {
                        set = set.exrule(rule);
                    }
                }
                "RDATE" | "EXDATE" => {
                    let dates = reader.dates(params, value)?;
                    if name == "RDATE" {
                        for date in dates {
                            set = set.rdate(rule_zone.from_utc_datetime(&date.naive_utc()));
                        }
                    } else {
                        exdates.extend(dates);
                    }
                }
                _ => return Err(invalid()),
            }
        }
        Ok(Some(Self {
            zone,
            end_zone,
            all_day,
            start: first,
            duration: last - first,
            set,
            exdates,
            finite,
        }))
    }

    /// Every original start in order, the series' start first (Google shows
    /// it as an instance even when the rule does not produce it), without
    /// duplicates even where the `rrule` crate repeats one across a
    /// daylight-saving change (its issue #115).
    pub(crate) fn starts(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut rule = self
            .set
            .clone()
            .into_iter()
            .map(|at| at.with_timezone(&Utc))
            .peekable();
        let mut pending = Some(self.start);
        let mut last: Option<DateTime<Utc>> = None;
        std::iter::from_fn(move || {
            loop {
                let take_start = match (pending, rule.peek()) {
                    (Some(start), Some(next)) => start <= *next,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                let next = if take_start {
                    pending.take()
                } else {
                    rule.next()
                }?;
                if last.is_none_or(|last| next > last) {
                    last = Some(next);
                    return Some(next);
                }
            }
        })
        .take(MAX_SCAN)
    }

    /// Original starts of the instances that overlap `[from, to)`, at most `cap`.
    pub(crate) fn starts_within(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        cap: usize,
    ) -> Vec<DateTime<Utc>> {
        self.starts()
            .take_while(|start| to.is_none_or(|to| *start < to))
            .filter(|start| from.is_none_or(|from| *start + self.duration > from))
            .take(cap)
            .collect()
    }

    /// Whether `at` is an original start of this series (cancelled by an
    /// `EXDATE` or not).
    pub(crate) fn has_start(&self, at: DateTime<Utc>) -> bool {
        self.starts()
            .find(|start| *start >= at)
            .is_some_and(|start| start == at)
    }

    /// Whether an `EXDATE` cancels the instance starting at `at`.
    pub(crate) fn excluded(&self, at: DateTime<Utc>) -> bool {
        self.exdates.contains(&at)
    }

    /// From the first start to the last end, or `None` for an endless series.
    pub(crate) fn span(&self) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        let end = if self.finite {
            self.starts().last().map(|last| last + self.duration)
        } else {
            None
        };
        (self.start, end)
    }
}

/// Reads the values of RRULE, RDATE and EXDATE lines in a series' terms.
struct LineReader {
    zone: chrono_tz::Tz,
    all_day: bool,
    local_start: NaiveDateTime,
}

impl LineReader {
    /// The rule with `UNTIL` in UTC, as the `rrule` crate wants it: a date
    /// `UNTIL` includes that whole (local) day, a floating one is local.
    fn rule_text(&self, rule: &str) -> Result<String, ApiError> {
        let parts: Result<Vec<String>, ApiError> = rule
            .split(';')
            .map(|part| match part.split_once('=') {
                Some((key, value)) if key.eq_ignore_ascii_case("UNTIL") => {
                    let until = self.instant(value, None, true)?;
                    Ok(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")))
                }
                _ => Ok(part.to_owned()),
            })
            .collect();
        Ok(parts?.join(";"))
    }

    /// The instants of an RDATE or EXDATE line's values.
    fn dates<'a>(
        &self,
        params: impl Iterator<Item = &'a str>,
        value: &str,
    ) -> Result<Vec<DateTime<Utc>>, ApiError> {
        let mut zone = None;
        for param in params {
            match param.split_once('=') {
                Some((key, tz)) if key.eq_ignore_ascii_case("TZID") => {
                    zone = Some(tz.parse::<chrono_tz::Tz>().map_err(|_| invalid())?);
                }
                Some((key, kind)) if key.eq_ignore_ascii_case("VALUE") => {
                    if !["DATE", "DATE-TIME"].contains(&kind.to_ascii_uppercase().as_str()) {
                        return Err(invalid());
                    }
                }
                _ => return Err(invalid()),
            }
        }
        value
            .split(',')
            .map(|raw| self.instant(raw, zone, false))
            .collect()
    }

    /// One iCalendar date or date-time: `Z` is UTC, a floating time is in
    /// `zone` or else the series' zone, and a date is the instance on that
    /// day (at the series' local time), or the end of that day for `UNTIL`.
    /// On an all-day series only the date counts.
    fn instant(
        &self,
        raw: &str,
        zone: Option<chrono_tz::Tz>,
        until: bool,
    ) -> Result<DateTime<Utc>, ApiError> {
        let zone = zone.unwrap_or(self.zone);
        let local = |naive: NaiveDateTime, zone: chrono_tz::Tz| {
            zone.from_local_datetime(&naive)
                .earliest()
                .map(|at| at.with_timezone(&Utc))
                .ok_or_else(invalid)
        };
        let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
        let date = |text: &str| NaiveDate::parse_from_str(text, "%Y%m%d").map_err(|_| invalid());
        let (day, time) = match raw.len() {
            8 if digits(raw) => (date(raw)?, None),
            15 | 16 if raw.as_bytes().get(8) == Some(&b'T') => {
                let (day, rest) = raw.split_at(8);
                let clock = rest.get(1..7).ok_or_else(invalid)?;
                if !digits(day) || !digits(clock) || (raw.len() == 16 && !raw.ends_with('Z')) {
                    return Err(invalid());
                }
                let time = NaiveTime::parse_from_str(clock, "%H%M%S").map_err(|_| invalid())?;
                (date(day)?, Some((time, raw.len() == 16)))
            }
            _ => return Err(invalid()),
        };
        if self.all_day {
            let day = match time {
                Some((time, true)) => day.and_time(time).and_utc().date_naive(),
                _ => day,
            };
            let clock = if until {
                NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(invalid)?
            } else {
                NaiveTime::MIN
            };
            return Ok(day.and_time(clock).and_utc());
        }
        match time {
            Some((time, true)) => Ok(day.and_time(time).and_utc()),
            Some((time, false)) => local(day.and_time(time), zone),
            None if until => local(
                day.and_time(NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(invalid)?),
                zone,
            ),
            None => local(day.and_time(self.local_start.time()), self.zone),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schedule(value: Value) -> Schedule {
        let Value::Object(fields) = value else {
            panic!("an object")
        };
        Schedule::of(&fields).unwrap().unwrap()
    }

    #[test]
    fn rules_repeating_within_a_day_give_no_duplicates_across_dst() {
        // rrule's issue #115: BYHOUR rules around a fall-back change.
        let series = schedule(json!({
            "start": { "dateTime": "2026-10-24T00:30:00", "timeZone": "Europe/London" },
            "end": { "dateTime": "2026-10-24T00:45:00", "timeZone": "Europe/London" },
            "recurrence": ["RRULE:FREQ=DAILY;BYHOUR=0,1,2;COUNT=9"],
        }));
        let starts: Vec<_> = series.starts().collect();
        assert!(
            starts.windows(2).all(|pair| pair[0] < pair[1]),
            "{starts:?}"
        );
        assert!(starts.len() >= 8, "{starts:?}");
    }

    #[test]
    fn until_as_a_date_includes_that_day() {
        let series = schedule(json!({
            "start": { "dateTime": "2026-12-01T09:00:00", "timeZone": "America/New_York" },
            "end": { "dateTime": "2026-12-01T10:00:00", "timeZone": "America/New_York" },
            "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20261203"],
        }));
        assert_eq!(series.starts().count(), 3);
        assert!(series.span().1.is_some());
    }

    /// Google shows a start its rule does not match beside the rule's `COUNT` matches, not
    /// as one of them: a Thursday start with `WEEKLY;COUNT=3;BYDAY=WE` gives four instances
    /// in Google Calendar (rust-rrule issue #119), a Monday start with
    /// `WEEKLY;BYDAY=TU,TH,SA;COUNT=5` six (google-api-nodejs-client issue #2214).
    #[test]
    fn a_start_off_the_rule_is_shown_and_count_counts_the_rule_only() {
        let series = schedule(json!({
            "start": { "dateTime": "2020-06-08T13:00:00Z", "timeZone": "UTC" },
            "end": { "dateTime": "2020-06-08T14:00:00Z", "timeZone": "UTC" },
            "recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH,SA;COUNT=5"],
        }));
        let days: Vec<u32> = series.starts().map(|s| chrono::Datelike::day(&s)).collect();
        assert_eq!(days, [8, 9, 11, 13, 16, 18]);
        // A start on the rule is its first match, and counted.
        let series = schedule(json!({
            "start": { "dateTime": "2020-06-09T13:00:00Z", "timeZone": "UTC" },
            "end": { "dateTime": "2020-06-09T14:00:00Z", "timeZone": "UTC" },
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TU,TH,SA;COUNT=5"],
        }));
        let days: Vec<u32> = series.starts().map(|s| chrono::Datelike::day(&s)).collect();
        assert_eq!(days, [9, 11, 13, 16, 18]);
    }
}
