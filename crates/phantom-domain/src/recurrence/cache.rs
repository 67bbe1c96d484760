//! Parsed rules kept from one request to the next.
//!
//! Parsing a stored series' rule (its lines, then `rrule`'s own parse and checks against the
//! first start) cost about as much as expanding it: half the work of a `range/` of series.
//! A person's calendar is read again and again (each week shown, the web app's refresh while
//! it watches events sync), with the same rules each time.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use quick_cache::Equivalent;
use quick_cache::sync::Cache;

use super::{Recurrence, RecurrenceError, SeriesTiming};

/// Rules kept at most. A weekly rule with an `EXDATE` holds about 1.1 KiB, so a full cache is
/// about 2.3 MiB (see `docs/design.md`, "Memory").
pub const RULES_KEPT: usize = 2_048;

/// Recurrences already parsed, by everything [`Recurrence::parse`] was given (the lines and
/// the timing): a hit is exactly what parsing would give, so there is nothing to invalidate.
/// A changed series has new lines or times, hence a new key; the old entry ages out.
pub struct RuleCache {
    rules: Cache<Key, Arc<Recurrence>>,
}

impl RuleCache {
    /// A cache of at most `capacity` rules.
    pub fn new(capacity: usize) -> RuleCache {
        RuleCache {
            rules: Cache::new(capacity),
        }
    }

    /// [`Recurrence::parse`] of `lines` with `timing`, parsed once while it stays in the cache.
    /// Refused lines are not kept (a stored series' rule was checked before it was stored).
    pub fn parse(
        &self,
        lines: &[String],
        timing: SeriesTiming,
    ) -> Result<Arc<Recurrence>, RecurrenceError> {
        if let Some(rule) = self.rules.get(&Lookup { lines, timing }) {
            return Ok(rule);
        }
        let rule = Arc::new(Recurrence::parse(lines, timing)?);
        let key = Key {
            lines: lines.into(),
            timing,
        };
        self.rules.insert(key, Arc::clone(&rule));
        Ok(rule)
    }

    /// Rules held now.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl Default for RuleCache {
    fn default() -> RuleCache {
        RuleCache::new(RULES_KEPT)
    }
}

impl fmt::Debug for RuleCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleCache")
            .field("len", &self.rules.len())
            .field("capacity", &self.rules.capacity())
            .finish()
    }
}

#[derive(PartialEq, Eq)]
struct Key {
    lines: Box<[String]>,
    timing: SeriesTiming,
}

/// A key borrowed for a lookup: a hit allocates nothing.
struct Lookup<'a> {
    lines: &'a [String],
    timing: SeriesTiming,
}

/// The one hash of both key forms (they must agree).
fn hash_key<H: Hasher>(lines: &[String], timing: &SeriesTiming, state: &mut H) {
    lines.hash(state);
    timing.hash(state);
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key(&self.lines, &self.timing, state);
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key(self.lines, &self.timing, state);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.timing == key.timing && *self.lines == *key.lines
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::timezone::TimeZoneName;

    fn timing(start: &str) -> SeriesTiming {
        let start: DateTime<Utc> = start.parse().expect("instant");
        SeriesTiming {
            start,
            end: start + TimeDelta::hours(1),
            zone: "Europe/London".parse::<TimeZoneName>().expect("zone"),
            all_day: false,
        }
    }

    fn lines(rule: &str) -> Vec<String> {
        vec![rule.to_owned()]
    }

    /// A hit is the rule parsing gives, and only the same lines with the same timing hit.
    #[test]
    fn a_hit_is_what_parsing_gives_for_the_same_lines_and_timing_only() {
        let cache = RuleCache::new(16);
        let weekly = lines("RRULE:FREQ=WEEKLY");
        let monday = timing("2027-03-01T09:00:00Z");
        let first = cache.parse(&weekly, monday).expect("parses");
        let again = cache.parse(&weekly, monday).expect("parses");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second parse was not a hit"
        );
        assert_eq!(*first, Recurrence::parse(&weekly, monday).expect("parses"));

        let tuesday = timing("2027-03-02T09:00:00Z");
        let moved = cache.parse(&weekly, tuesday).expect("parses");
        assert_eq!(moved.timing(), tuesday);
        let daily = cache
            .parse(&lines("RRULE:FREQ=DAILY"), monday)
            .expect("parses");
        assert_ne!(*daily, *first);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn a_refused_rule_is_refused_every_time_and_not_kept() {
        let cache = RuleCache::new(16);
        let bad = lines("RRULE:FREQ=SOMETIMES");
        let monday = timing("2027-03-01T09:00:00Z");
        let expected = Recurrence::parse(&bad, monday).expect_err("refused");
        for _ in 0..2 {
            assert_eq!(cache.parse(&bad, monday).expect_err("refused"), expected);
        }
        assert!(cache.is_empty());
    }

    #[test]
    fn it_holds_no_more_than_its_capacity() {
        let cache = RuleCache::new(8);
        let weekly = lines("RRULE:FREQ=WEEKLY");
        let base = timing("2027-03-01T09:00:00Z");
        for minutes in 0..100 {
            let mut t = base;
            t.start += TimeDelta::minutes(minutes);
            t.end += TimeDelta::minutes(minutes);
            cache.parse(&weekly, t).expect("parses");
        }
        assert!(cache.len() <= 8, "{} kept", cache.len());
    }
}
