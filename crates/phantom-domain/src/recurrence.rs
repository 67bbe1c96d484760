//! Recurring events: a series' `recurrence` lines (as Google Calendar takes them), checked and
//! normalised; its occurrences in a window; its span; occurrence ids; "this and following"
//! splits. The contract is `../shared/API.md`, "Recurring events".
//!
//! # How occurrences are computed
//!
//! A series is its first start (an instant; for an all-day series the local midnight of its
//! first day), its length, its IANA zone, and one `RRULE` with `EXDATE`/`RDATE` lines. Its
//! occurrences are:
//! - the first start itself, always, even when the rule does not match it (Google shows it);
//! - the rule's matches after it, computed on the series' local wall-clock times (a weekly
//!   09:00 Europe/London stays 09:00 local across daylight saving; an all-day series goes by
//!   dates), up to `UNTIL` (inclusive) or until `COUNT` of the rule's matches. A first start
//!   the rule matches is the first of them; one it does not match is shown beside them and
//!   not counted: `WEEKLY;COUNT=3;BYDAY=MO` from a Wednesday is that Wednesday and three
//!   Mondays. That is what Google Calendar shows (rust-rrule issue #119: a Thursday start
//!   with `WEEKLY;COUNT=3;BYDAY=WE` gives four instances in Google; google-api-nodejs-client
//!   issue #2214: a Monday start with `BYDAY=TU,TH,SA;COUNT=5` gives six), where RFC 5545
//!   would count the start (§3.3.10) and calls such a set undefined (§3.8.5.3);
//! - less the `EXDATE`s, plus the `RDATE`s (neither changes what `COUNT` counts).
//!
//! The rule itself is run by the `rrule` crate (never a hand-written RRULE engine), on naive
//! local times dressed as UTC; this module turns them into instants.
//!
//! # Daylight saving, and rrule issue #115
//!
//! `rrule` 0.14 run in a real zone duplicates or loses occurrences of rules that repeat within a
//! day (`FREQ=HOURLY`, several `BYHOUR`s) at a clock change (its open issue #115): a local time
//! in the skipped hour is moved forward by the gap onto the next real hour, which the rule also
//! produces (a duplicate, counted twice by `COUNT`), and a local time in the repeated hour is
//! produced once. The `recurrence` tests show it on the crate directly. Here, `rrule` never sees
//! a zone, and the conversion follows RFC 5545:
//! - a local time that does not exist (skipped by a clock change) is not an occurrence and is
//!   not counted (§3.3.10: "such recurrence instances MUST be ignored and MUST NOT be counted");
//!   this also applies to a once-a-day rule at such a time (a daily 02:30 in New York has no
//!   occurrence on the spring-forward day, where `rrule` alone would give 03:30);
//! - a local time that happens twice names the first of the two (§3.3.5), so an hourly rule
//!   gives 01:00 once on the fall-back day: the series repeats on the local clock.
//!
//! So occurrences never repeat and always ascend. This is RFC 5545's reading; Google's own
//! expansion of a skipped local time has not been checked against Google here.
//!
//! # Bounded work
//!
//! An endless series is never walked from its start: `rrule` starts in the period (year, month,
//! week, day, …) holding the window, on a multiple of `INTERVAL` from the first one (see
//! the `expand` module). `COUNT` is at most [`MAX_COUNT`] (a `COUNT` series is counted once, at parse),
//! and a rule may repeat at most [`MAX_PER_DAY`] times a day, so a 366-day window holds at most
//! ~35,000 occurrences. A rule that never matches costs `rrule`'s own limit of 100,000 empty
//! periods per call.

mod cache;
mod expand;
mod occurrence_id;
mod rule;
mod split;

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use rrule::Frequency;

pub use cache::{RULES_KEPT, RuleCache};
pub use occurrence_id::{
    NotAnOccurrenceId, OccurrenceKey, google_instance_id, parse_google_instance_id,
};
pub use rule::{MAX_COUNT, MAX_PER_DAY};
pub use split::{Split, SplitError};

use crate::event::{local_midnight, whole_days};
use crate::timezone::TimeZoneName;
use expand::Engine;
use rule::{Form, Lines};

/// Where an occurrence of a series falls under its rule: its name, which never changes even
/// when the occurrence is moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OriginalStart {
    /// A timed series: the start the rule gives it.
    At(DateTime<Utc>),
    /// An all-day series: its local date.
    Day(NaiveDate),
}

impl OriginalStart {
    /// The instant it names: an all-day occurrence's local midnight in `zone`.
    pub fn instant(self, zone: TimeZoneName) -> DateTime<Utc> {
        match self {
            OriginalStart::At(t) => t,
            OriginalStart::Day(d) => local_midnight(d, zone),
        }
    }
}

/// What a series' times are, as its event stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesTiming {
    /// The first occurrence's start (all-day: a local midnight in `zone`).
    pub start: DateTime<Utc>,
    /// The first occurrence's end; every occurrence has this length (all-day: this many days).
    pub end: DateTime<Utc>,
    /// The zone the series repeats in.
    pub zone: TimeZoneName,
    /// Whole days.
    pub all_day: bool,
}

/// One occurrence of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Its name under the rule.
    pub original_start: OriginalStart,
    /// Its start.
    pub start: DateTime<Utc>,
    /// Its end.
    pub end: DateTime<Utc>,
}

/// From when to when a series has occurrences, for an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesSpan {
    /// The earliest start.
    pub first_start: DateTime<Utc>,
    /// The latest end; `None` when the series never ends.
    pub last_end: Option<DateTime<Utc>>,
}

/// Why `recurrence` was refused; the Display is the `400` text of the `recurrence` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    /// No `RRULE` line.
    #[error("A recurring event needs one RRULE line, for example \"RRULE:FREQ=WEEKLY;BYDAY=MO\".")]
    NoRule,
    /// More than one `RRULE` line.
    #[error("Only one RRULE line is allowed.")]
    SeveralRules,
    /// An `EXRULE` line.
    #[error("EXRULE is not supported: remove single occurrences with EXDATE lines.")]
    ExRule,
    /// A `DTSTART` line.
    #[error("DTSTART is not allowed: the event's start_time is the series' start.")]
    DtStart,
    /// Any other line.
    #[error("\"{0}\" is not allowed: only RRULE, EXDATE and RDATE lines are.")]
    UnsupportedLine(String),
    /// The `RRULE` has no `FREQ`.
    #[error("The RRULE needs a FREQ, for example FREQ=WEEKLY.")]
    NoFreq,
    /// Both `COUNT` and `UNTIL`.
    #[error("The RRULE may have COUNT or UNTIL, not both.")]
    CountWithUntil,
    /// `COUNT` of 0 or too large.
    #[error("COUNT must be from 1 to {MAX_COUNT}.")]
    CountOutOfRange,
    /// `UNTIL` before the series' start.
    #[error("UNTIL is before the event's start.")]
    UntilBeforeStart,
    /// More occurrences a day than [`MAX_PER_DAY`].
    #[error("A series may repeat at most {MAX_PER_DAY} times a day.")]
    TooFrequent,
    /// A time-of-day rule on an all-day series.
    #[error(
        "An all-day series repeats by days: FREQ=HOURLY, MINUTELY, SECONDLY and BYHOUR, BYMINUTE, BYSECOND are for timed events."
    )]
    AllDayTimeParts,
    /// The rule cannot be parsed or expanded.
    #[error("The RRULE cannot be used: {0}.")]
    InvalidRule(String),
    /// A malformed date or date-time.
    #[error(
        "{property} value \"{value}\" is not a date-time like 20261208T090000 (or 20261208T090000Z in UTC), or a date like 20261208 for an all-day event."
    )]
    InvalidDate {
        /// `UNTIL`, `EXDATE` or `RDATE`.
        property: String,
        /// What was given.
        value: String,
    },
    /// A date where the series needs a date-time.
    #[error(
        "{0};VALUE=DATE is for all-day events: give a date-time such as {0};TZID=Europe/London:20261208T090000."
    )]
    DateOnTimedSeries(String),
    /// An unknown `TZID`.
    #[error("TZID \"{0}\" is not a known IANA time zone.")]
    UnknownZone(String),
    /// A local time skipped by a clock change.
    #[error("{value} does not exist in {zone} (the clocks skip it).")]
    NonexistentTime {
        /// What was given.
        value: String,
        /// Its zone.
        zone: String,
    },
}

/// A series' recurrence, checked against its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    timing: SeriesTiming,
    lines: Lines,
    engine: Engine,
    first: OriginalStart,
    /// With `COUNT`: its last counted occurrence.
    count_last: Option<OriginalStart>,
}

impl Recurrence {
    /// Parses and checks the `recurrence` lines of a series with this timing. `[]` is not a
    /// series: call this only for a non-empty list.
    pub fn parse<S: AsRef<str>>(
        lines: &[S],
        timing: SeriesTiming,
    ) -> Result<Recurrence, RecurrenceError> {
        let form = Form {
            zone: timing.zone,
            all_day: timing.all_day,
        };
        let lines = rule::parse_lines(lines, form)?;
        Self::from_lines(lines, timing)
    }

    fn from_lines(lines: Lines, timing: SeriesTiming) -> Result<Recurrence, RecurrenceError> {
        let tz = timing.zone.tz();
        let local = timing.start.with_timezone(&tz).naive_local();
        let (first, first_local) = if timing.all_day {
            let by_time = lines.rule.freq > Frequency::Daily
                || ["BYHOUR", "BYMINUTE", "BYSECOND"]
                    .iter()
                    .any(|n| lines.rule.get(n).is_some());
            if by_time {
                return Err(RecurrenceError::AllDayTimeParts);
            }
            let day = local.date();
            (
                OriginalStart::Day(day),
                day.and_time(chrono::NaiveTime::MIN),
            )
        } else {
            (OriginalStart::At(timing.start), local)
        };
        if lines.rule.until.is_some_and(|until| until < first) {
            return Err(RecurrenceError::UntilBeforeStart);
        }
        let engine = Engine::new(&lines.rule, first_local)?;
        let mut recurrence = Recurrence {
            timing,
            lines,
            engine,
            first,
            count_last: None,
        };
        if let Some(count) = recurrence.lines.rule.count {
            // A first start off the rule is shown beside the rule's `COUNT` matches.
            let take = usize::try_from(count)
                .unwrap_or(usize::MAX)
                .saturating_add(usize::from(!recurrence.start_on_rule()));
            recurrence.count_last = recurrence.rule_moments(first, None).take(take).last();
        }
        Ok(recurrence)
    }

    /// The lines to store and to write to Google: the `RRULE` (its `UNTIL` in UTC, or a date
    /// for an all-day series), then `EXDATE`s and `RDATE`s in the series' own form
    /// (`;TZID=<zone>:` local date-times, or `;VALUE=DATE:` dates).
    pub fn lines(&self) -> Vec<String> {
        rule::write_lines(&self.lines, self.form())
    }

    /// The timing it was checked against.
    pub fn timing(&self) -> SeriesTiming {
        self.timing
    }

    /// The original start of the series' own first occurrence.
    pub fn first(&self) -> OriginalStart {
        self.first
    }

    /// The original start an occurrence starting (under the rule) at `at` has: `at` itself, or
    /// its local date for an all-day series.
    pub fn original_start(&self, at: DateTime<Utc>) -> OriginalStart {
        if self.timing.all_day {
            OriginalStart::Day(at.with_timezone(&self.timing.zone.tz()).date_naive())
        } else {
            OriginalStart::At(at)
        }
    }

    /// The live occurrences (`EXDATE`s removed, `RDATE`s added) whose `[start, end)` meets
    /// `[from, to)`, in order.
    pub fn occurrences(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Occurrence> {
        if to <= from {
            return Vec::new();
        }
        let (lo, hi) = if self.timing.all_day {
            let tz = self.timing.zone.tz();
            let first_day = from.with_timezone(&tz).date_naive();
            let last_day = to.with_timezone(&tz).date_naive();
            let days = i64::from(self.days());
            (
                OriginalStart::Day(first_day - TimeDelta::days(days)),
                OriginalStart::Day(last_day + TimeDelta::days(1)),
            )
        } else {
            (
                OriginalStart::At(from - self.length()),
                OriginalStart::At(to),
            )
        };
        self.moments(lo, hi)
            .into_iter()
            .map(|m| self.occurrence(m))
            .filter(|o| o.end > from && o.start < to)
            .collect()
    }

    /// The occurrence named `original_start`, if it is a live one.
    pub fn occurrence_at(&self, original_start: OriginalStart) -> Option<Occurrence> {
        self.is_occurrence(original_start)
            .then(|| self.occurrence(original_start))
    }

    /// True when `original_start` names a live occurrence (under the rule, or an `RDATE`, and
    /// not an `EXDATE`).
    pub fn is_occurrence(&self, original_start: OriginalStart) -> bool {
        self.same_form(original_start)
            && self
                .moments(original_start, next_after(original_start))
                .contains(&original_start)
    }

    /// From the earliest start to the latest end, without expanding an endless rule.
    pub fn span(&self) -> SeriesSpan {
        let first_start = self
            .lines
            .rdates
            .first()
            .map_or(self.timing.start, |r| self.occurrence(*r).start)
            .min(self.timing.start);
        let last_end = self.limit().map(|limit| {
            let last = self.last_until(limit);
            let last = self.lines.rdates.last().copied().max(last);
            last.map_or(self.timing.end, |m| self.occurrence(m).end)
        });
        SeriesSpan {
            first_start,
            last_end,
        }
    }

    /// The last live occurrence at or before `limit`, looking back in growing steps.
    fn last_until(&self, limit: OriginalStart) -> Option<OriginalStart> {
        let hi = next_after(limit);
        let mut back_days = 400_i64;
        loop {
            let lo = match limit {
                OriginalStart::At(t) => OriginalStart::At(t - TimeDelta::days(back_days)),
                OriginalStart::Day(d) => OriginalStart::Day(
                    d.checked_sub_signed(TimeDelta::days(back_days))
                        .unwrap_or(NaiveDate::MIN),
                ),
            }
            .max(self.first);
            if let Some(last) = self.moments(lo, hi).last() {
                return Some(*last);
            }
            if lo <= self.first {
                return None;
            }
            back_days = back_days.saturating_mul(4);
        }
    }

    /// The first start is itself one of the rule's matches (else it is an occurrence beside
    /// them, which `COUNT` does not count). Asked only for a `COUNT` rule: it runs the rule.
    fn start_on_rule(&self) -> bool {
        let first_local = self.local(self.first);
        self.engine
            .matches_from(first_local - TimeDelta::days(1))
            .find(|local| *local >= first_local)
            == Some(first_local)
    }

    fn form(&self) -> Form {
        Form {
            zone: self.timing.zone,
            all_day: self.timing.all_day,
        }
    }

    fn same_form(&self, m: OriginalStart) -> bool {
        matches!(m, OriginalStart::Day(_)) == self.timing.all_day
    }

    fn length(&self) -> TimeDelta {
        self.timing.end - self.timing.start
    }

    /// An all-day series' length in days (at least one).
    fn days(&self) -> u32 {
        let (first, after) = whole_days(self.timing.start, self.timing.end, self.timing.zone);
        u32::try_from((after - first).num_days())
            .unwrap_or(1)
            .max(1)
    }

    fn occurrence(&self, m: OriginalStart) -> Occurrence {
        let start = m.instant(self.timing.zone);
        let end = match m {
            OriginalStart::At(t) => t + self.length(),
            OriginalStart::Day(d) => local_midnight(
                d + TimeDelta::days(i64::from(self.days())),
                self.timing.zone,
            ),
        };
        Occurrence {
            original_start: m,
            start,
            end,
        }
    }

    /// The last original start the rule reaches (`UNTIL`, or `COUNT`'s last), if any.
    fn limit(&self) -> Option<OriginalStart> {
        self.lines.rule.until.or(self.count_last)
    }

    /// The series' local wall-clock time as an original start: skipped times are none
    /// (RFC 5545 §3.3.10), repeated ones the first (§3.3.5).
    fn moment(&self, local: NaiveDateTime) -> Option<OriginalStart> {
        if self.timing.all_day {
            return Some(OriginalStart::Day(local.date()));
        }
        self.timing
            .zone
            .tz()
            .from_local_datetime(&local)
            .earliest()
            .map(|t| OriginalStart::At(t.with_timezone(&Utc)))
    }

    fn local(&self, m: OriginalStart) -> NaiveDateTime {
        match m {
            OriginalStart::At(t) => t.with_timezone(&self.timing.zone.tz()).naive_local(),
            OriginalStart::Day(d) => d.and_time(chrono::NaiveTime::MIN),
        }
    }

    /// The first start, then the rule's matches after it from about `from` on, ascending,
    /// before `COUNT`/`UNTIL`, `EXDATE` and `RDATE`; without end if `hi` is `None`.
    fn rule_moments(
        &self,
        from: OriginalStart,
        hi: Option<OriginalStart>,
    ) -> impl Iterator<Item = OriginalStart> + '_ {
        // A day earlier: a local time and the instant it names differ by at most a day.
        let from_local = self.local(from.max(self.first)) - TimeDelta::days(1);
        let first = self.first;
        std::iter::once(first)
            .chain(
                self.engine
                    .matches_from(from_local)
                    .filter_map(|local| self.moment(local))
                    .skip_while(move |m| *m <= first),
            )
            .take_while(move |m| hi.is_none_or(|hi| *m < hi))
    }

    /// The live original starts in `[lo, hi)`, ascending.
    fn moments(&self, lo: OriginalStart, hi: OriginalStart) -> Vec<OriginalStart> {
        let limit = self.limit();
        let mut set: BTreeSet<OriginalStart> = self
            .rule_moments(lo, Some(hi))
            .take_while(|m| limit.is_none_or(|l| *m <= l))
            .filter(|m| *m >= lo && !self.lines.exdates.contains(m))
            .collect();
        set.extend(self.lines.rdates.range(lo..hi).copied());
        set.into_iter().collect()
    }
}

/// The smallest original start after `m`.
fn next_after(m: OriginalStart) -> OriginalStart {
    match m {
        OriginalStart::At(t) => OriginalStart::At(t + TimeDelta::nanoseconds(1)),
        OriginalStart::Day(d) => OriginalStart::Day(d.succ_opt().unwrap_or(d)),
    }
}

#[cfg(test)]
mod tests;
