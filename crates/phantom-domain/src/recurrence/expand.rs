//! The rule engine: `rrule` run on the series' wall-clock times, started near the window.
//!
//! `rrule` is given naive local times dressed as UTC (so that no zone arithmetic happens
//! inside it, see the module doc of [`super`] for why), the rule without `COUNT`/`UNTIL`
//! (applied by the caller on real instants), and every default it would take from the
//! start (`BYDAY` of a weekly rule, `BYMONTHDAY` of a monthly one, `BYHOUR`/`BYMINUTE`/
//! `BYSECOND`, …) written out. With those explicit, the rule's matches from the start of any
//! period `k × INTERVAL` periods after the first one are exactly the original matches from
//! there on, so a window in year 2100 starts `rrule` in the period holding the window instead
//! of walking from 2026.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Timelike, Weekday};
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};

use super::RecurrenceError;
use super::rule::{MAX_PER_DAY, RuleLine};

/// The rule, ready to run from any period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Engine {
    freq: Frequency,
    interval: i64,
    week_start: Weekday,
    /// The rule's parts with its start-dependent defaults written out, no `COUNT`/`UNTIL`,
    /// parsed and validated once here. With every default written out and no `UNTIL`,
    /// `rrule`'s validation takes nothing from the start it is given (it fills in only the
    /// defaults, and checks only `UNTIL` against the start), so the rule validated against the
    /// first start is the rule validated against any anchor. `None` if `rrule` refused it
    /// (then the rule has no matches, as when each expansion validated its own copy).
    explicit: Option<RRule>,
    /// The series' first start, local wall-clock time.
    first: NaiveDateTime,
}

fn invalid(e: rrule::RRuleError) -> RecurrenceError {
    // rrule prefixes every message with "RRule parsing error: " and the like.
    let text = e.to_string();
    let text = text
        .split_once(": ")
        .map_or(text.as_str(), |(_, rest)| rest);
    RecurrenceError::InvalidRule(text.trim_end_matches('.').to_owned())
}

fn as_rrule_time(t: NaiveDateTime) -> chrono::DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&t)
}

fn list_len(rule: &RuleLine, name: &str) -> Option<u64> {
    rule.get(name).map(|v| v.split(',').count() as u64)
}

impl Engine {
    /// Checks the rule against the series' first start (local wall-clock time).
    pub fn new(rule: &RuleLine, first: NaiveDateTime) -> Result<Engine, RecurrenceError> {
        let given = rule
            .parts
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        let parsed: RRule<Unvalidated> = given.parse().map_err(invalid)?;
        let week_start = parsed.get_week_start();
        parsed.validate(as_rrule_time(first)).map_err(invalid)?;

        let has = |name: &str| rule.get(name).is_some();
        let mut explicit = given;
        let mut add = |name: &str, value: String| {
            explicit.push_str(&format!(";{name}={value}"));
        };
        if !["BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"]
            .iter()
            .any(|n| has(n))
        {
            match rule.freq {
                Frequency::Yearly => {
                    if !has("BYMONTH") {
                        add("BYMONTH", first.month().to_string());
                    }
                    add("BYMONTHDAY", first.day().to_string());
                }
                Frequency::Monthly => add("BYMONTHDAY", first.day().to_string()),
                Frequency::Weekly => add("BYDAY", weekday_code(first.weekday()).to_owned()),
                _ => {}
            }
        }
        if !has("BYHOUR") && rule.freq < Frequency::Hourly {
            add("BYHOUR", first.hour().to_string());
        }
        if !has("BYMINUTE") && rule.freq < Frequency::Minutely {
            add("BYMINUTE", first.minute().to_string());
        }
        if !has("BYSECOND") && rule.freq < Frequency::Secondly {
            add("BYSECOND", first.second().to_string());
        }

        let interval = u64::from(rule.interval);
        let per = |name: &str| list_len(rule, name).unwrap_or(1);
        let per_day = match rule.freq {
            Frequency::Secondly => 86_400_u64.div_ceil(interval),
            Frequency::Minutely => 1_440_u64.div_ceil(interval) * per("BYSECOND"),
            Frequency::Hourly => {
                list_len(rule, "BYHOUR").unwrap_or_else(|| 24_u64.div_ceil(interval))
                    * per("BYMINUTE")
                    * per("BYSECOND")
            }
            _ => per("BYHOUR") * per("BYMINUTE") * per("BYSECOND"),
        };
        if per_day > MAX_PER_DAY {
            return Err(RecurrenceError::TooFrequent);
        }
        let explicit: RRule<Unvalidated> = explicit.parse().map_err(invalid)?;
        let explicit = explicit.validate(as_rrule_time(first)).ok();
        Ok(Engine {
            freq: rule.freq,
            interval: i64::from(rule.interval),
            week_start,
            explicit,
            first,
        })
    }

    /// The rule's local matches from the start of the period holding `from` (or of the first
    /// period, if `from` is earlier), ascending, without end: the caller stops.
    ///
    /// Bounded work per call: `rrule` starts at most one `INTERVAL` of periods before `from`,
    /// and in its limited mode gives up after 100,000 periods without a match.
    pub fn matches_from(&self, from: NaiveDateTime) -> impl Iterator<Item = NaiveDateTime> {
        let first_index = self.index(self.first);
        let periods = (self.index(from) - first_index).div_euclid(self.interval);
        let anchor_index = first_index + periods.max(0) * self.interval;
        let set = self
            .start_of(anchor_index)
            .map(as_rrule_time)
            .zip(self.explicit.as_ref())
            .map(|(anchor, rule)| RRuleSet::new(anchor).rrule(rule.clone()).limit());
        set.into_iter()
            .flat_map(|set| (&set).into_iter())
            .map(|t| t.naive_utc())
    }

    /// The number of the period (year, month, week, day, hour, …) holding `t`.
    fn index(&self, t: NaiveDateTime) -> i64 {
        let days = i64::from(t.date().num_days_from_ce());
        let hours = days * 24 + i64::from(t.hour());
        let minutes = hours * 60 + i64::from(t.minute());
        match self.freq {
            Frequency::Yearly => i64::from(t.year()),
            Frequency::Monthly => i64::from(t.year()) * 12 + i64::from(t.month0()),
            Frequency::Weekly => {
                let back = (t.weekday().num_days_from_monday() + 7
                    - self.week_start.num_days_from_monday())
                    % 7;
                (days - i64::from(back)).div_euclid(7)
            }
            Frequency::Daily => days,
            Frequency::Hourly => hours,
            Frequency::Minutely => minutes,
            Frequency::Secondly => minutes * 60 + i64::from(t.second()),
        }
    }

    /// Where period `index` begins.
    fn start_of(&self, index: i64) -> Option<NaiveDateTime> {
        let day = |d: i64| NaiveDate::from_num_days_from_ce_opt(i32::try_from(d).ok()?);
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
        let within_day = |units_per_day: i64, unit: TimeDelta| {
            let date = day(index.div_euclid(units_per_day))?;
            midnight(date)?
                .checked_add_signed(unit * i32::try_from(index.rem_euclid(units_per_day)).ok()?)
        };
        match self.freq {
            Frequency::Yearly => {
                midnight(NaiveDate::from_ymd_opt(i32::try_from(index).ok()?, 1, 1)?)
            }
            Frequency::Monthly => midnight(NaiveDate::from_ymd_opt(
                i32::try_from(index.div_euclid(12)).ok()?,
                u32::try_from(index.rem_euclid(12)).ok()? + 1,
                1,
            )?),
            Frequency::Weekly => (0..7)
                .filter_map(|j| day(index * 7 + j))
                .find(|d| d.weekday() == self.week_start)
                .and_then(midnight),
            Frequency::Daily => midnight(day(index)?),
            Frequency::Hourly => within_day(24, TimeDelta::hours(1)),
            Frequency::Minutely => within_day(1_440, TimeDelta::minutes(1)),
            Frequency::Secondly => within_day(86_400, TimeDelta::seconds(1)),
        }
    }
}

/// RFC 5545's two letters for a weekday.
pub(super) fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}
