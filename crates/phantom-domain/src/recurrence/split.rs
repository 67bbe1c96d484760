//! "This and following events": one series becomes two at an occurrence.

use chrono::TimeDelta;

use super::{OriginalStart, Recurrence, SeriesTiming, rule::RuleLine};
use crate::event::local_midnight;

/// The two series a split makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The old series, now ending just before the split.
    pub old: Recurrence,
    /// The new series, from the split occurrence on.
    pub new: Recurrence,
}

/// Why a series cannot be split there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// At the first occurrence: the old series would be empty (the API's `non_field_errors`).
    #[error("This is the series' first occurrence: change the whole series instead.")]
    FirstOccurrence,
    /// Not a live occurrence of the series.
    #[error("The series has no such occurrence.")]
    NotAnOccurrence,
}

impl Recurrence {
    /// Splits the series at the occurrence `at`: the old series gets `UNTIL` one second (one
    /// day, all-day) before it, its `COUNT` becoming that `UNTIL`; the new series starts at
    /// `at`, with the same length, the rest of the rule (the remaining `COUNT`, or the same
    /// `UNTIL`) and the `EXDATE`s and `RDATE`s at or after `at`.
    pub fn split_at(&self, at: OriginalStart) -> Result<Split, SplitError> {
        if at <= self.first && self.same_form(at) {
            return Err(SplitError::FirstOccurrence);
        }
        if !self.is_occurrence(at) {
            return Err(SplitError::NotAnOccurrence);
        }
        let mut old = self.lines.clone();
        let mut new = self.lines.clone();
        old.exdates.retain(|m| *m < at);
        old.rdates.retain(|m| *m < at);
        new.exdates.retain(|m| *m >= at);
        new.rdates.retain(|m| *m >= at);

        old.rule.count = None;
        old.rule.until = Some(match at {
            OriginalStart::At(t) => OriginalStart::At(t - TimeDelta::seconds(1)),
            OriginalStart::Day(d) => OriginalStart::Day(d.pred_opt().unwrap_or(d)),
        });
        if let Some(count) = self.lines.rule.count {
            // A first start off the rule is not one of the `COUNT` matches.
            let before = self.rule_moments(self.first, Some(at)).count()
                - usize::from(!self.start_on_rule());
            let before = u32::try_from(before).unwrap_or(u32::MAX);
            new.rule.count = Some(count.saturating_sub(before).max(1));
        }
        new.rule = self.pin_defaults(new.rule, at);

        let new_start = at.instant(self.timing.zone);
        let new_end = match at {
            OriginalStart::At(t) => t + self.length(),
            OriginalStart::Day(d) => local_midnight(
                d + TimeDelta::days(i64::from(self.days())),
                self.timing.zone,
            ),
        };
        let new_timing = SeriesTiming {
            start: new_start,
            end: new_end,
            ..self.timing
        };
        // Both halves are parts of a valid series, so they parse; a failure would mean the
        // split broke something, which the caller reports like any refused recurrence.
        let old =
            Recurrence::from_lines(old, self.timing).map_err(|_| SplitError::NotAnOccurrence)?;
        let new =
            Recurrence::from_lines(new, new_timing).map_err(|_| SplitError::NotAnOccurrence)?;
        Ok(Split { old, new })
    }

    /// The new series' rule takes the defaults a rule takes from its start (weekday, day of
    /// month, month, time) from the old series' start, written out where `at` differs (an
    /// `RDATE`, or a first start the rule does not match), so that it repeats the same way.
    fn pin_defaults(&self, mut rule: RuleLine, at: OriginalStart) -> RuleLine {
        use chrono::{Datelike, Timelike};
        use rrule::Frequency;

        let old = self.local(self.first);
        let new = self.local(at);
        let has = |rule: &RuleLine, n: &str| rule.get(n).is_some();
        if !["BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"]
            .iter()
            .any(|n| has(&rule, n))
        {
            let month_given = has(&rule, "BYMONTH");
            let mut pin = |name: &str, value: String| rule.parts.push((name.to_owned(), value));
            match rule.freq {
                Frequency::Yearly if (old.month(), old.day()) != (new.month(), new.day()) => {
                    if !month_given {
                        pin("BYMONTH", old.month().to_string());
                    }
                    pin("BYMONTHDAY", old.day().to_string());
                }
                Frequency::Monthly if old.day() != new.day() => {
                    pin("BYMONTHDAY", old.day().to_string());
                }
                Frequency::Weekly if old.weekday() != new.weekday() => {
                    pin(
                        "BYDAY",
                        super::expand::weekday_code(old.weekday()).to_owned(),
                    );
                }
                _ => {}
            }
        }
        if old.time() != new.time() && !self.timing.all_day {
            for (name, freq, value) in [
                ("BYHOUR", Frequency::Hourly, old.hour()),
                ("BYMINUTE", Frequency::Minutely, old.minute()),
                ("BYSECOND", Frequency::Secondly, old.second()),
            ] {
                if !has(&rule, name) && rule.freq < freq {
                    rule.parts.push((name.to_owned(), value.to_string()));
                }
            }
        }
        rule
    }
}
